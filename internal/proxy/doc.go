// Package proxy is xftpd's receiving-proxy role (docs/PROXY.md): it opens
// the onion layer sealed to it, pins and forwards to the next hop — another
// proxy, or the destination xftp server for a download or acknowledgement
// — and seals what comes back under the response key of its layer. It
// stores nothing and logs no routes, addresses or IDs.
package proxy
