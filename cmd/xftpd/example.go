package main

// exampleConfig is printed by 'xftpd config example' and kept in sync with
// deploy/xftpd.example.yaml by a test.
const exampleConfig = `# xftpd configuration. Every key can also be set from the environment as
# XFTPD_<KEY PATH> in upper case, e.g. XFTPD_LISTEN, XFTPD_STORAGE_S3_BUCKET;
# command-line flags override both. Sizes take units (64KiB, 10GiB, 500MB),
# durations take 30s, 90m, 48h or 7d.

# Directory for the identity key, and for chunk bodies and records when
# they are stored locally.
data: /var/lib/xftpd
# Address to listen on. Port 0 picks a free port.
listen: 0.0.0.0:5443
# Host name clients use; it goes into the printed server address.
host: files.example.com
# false serves plain HTTP/1.1 and h2c for a TLS-terminating reverse proxy
# (see deploy/Caddyfile); clients then verify the identity by challenge.
tls: true
# The only chunk sizes accepted: the four sizes xftp clients cut files
# into (xftpd refuses to start with any other set).
chunk_sizes: [64KiB, 256KiB, 1MiB, 4MiB]
# How long a chunk lives after it is created.
expiry: 48h
# Total size of all created chunks (uploaded or not); 0 means no limit.
quota: 10GiB
# File holding the upload password (or env XFTPD_PASSWORD). Clients need it
# in the server address: xftp://FINGERPRINT:PASSWORD@HOST:PORT.
password_file: ""
# false refuses new chunks; downloads continue.
new_chunks: true
# On SIGTERM, how long transfers in flight may take to finish.
grace: 30s
# Concurrent HTTP/2 streams per client connection.
max_streams: 128
# Soft limit of the Go runtime's memory (env GOMEMLIMIT wins if set): the
# garbage collector works harder near it, so the process stays close to what
# is in use (64 concurrent 4 MiB transfers: about 250 MiB without a limit).
# Raise it for many more concurrent transfers; 0: no limit.
memory_limit: 192MiB
log:
  level: info   # debug, info, warn, error
  format: text  # text or json

storage:
  # fs: chunk bodies under data/chunks. s3: an S3-compatible bucket.
  backend: fs
  s3:
    endpoint: minio:9000
    # More endpoints of the same service (the nodes of a distributed
    # MinIO): used in turn, one that fails rests 10s. Or list a balancer
    # in front of the nodes as the endpoint alone (docs/SCALING.md).
    endpoints: []
    bucket: xftp
    region: us-east-1
    access_key: xftp
    # The secret key comes from this file or env XFTPD_S3_SECRET_KEY.
    secret_key_file: /run/secrets/s3_secret_key
    use_tls: false
    path_style: true
    # Create the bucket at start-up if it does not exist.
    create_bucket: true
    # Object name prefix (object names are random internal keys).
    prefix: chunks/

records:
  # embedded: bbolt file in data/. redis: shared by all replicas (needed
  # with storage s3).
  backend: embedded

redis:
  # One server; or, with cluster: true, some nodes of a Redis Cluster; or,
  # with sentinel.master_name, the Sentinels (see docs/SCALING.md).
  addresses: [redis:6379]
  cluster: false
  sentinel:
    # The name the Sentinels monitor; empty: no Sentinel.
    master_name: ""
    username: ""
    # Password of the Sentinels themselves: this file or env
    # XFTPD_REDIS_SENTINEL_PASSWORD.
    password_file: ""
  username: ""
  # The password comes from this file or env XFTPD_REDIS_PASSWORD.
  password_file: ""
  db: 0
  # Key prefix, without braces: keys carry their own hash tags so that
  # they spread over a cluster's slots.
  prefix: "xftp:"
  tls: false
  # How many replicas must hold a write (record, blocklist entry, report)
  # before xftpd acknowledges it (Redis WAIT), so that a master killed just
  # after answering loses nothing acknowledged. Unset: 1 with cluster or
  # Sentinel, 0 (no wait) for one server. A master with fewer replicas
  # connected waits for those it has (none: no wait); one that misses the
  # timeout (default 2s) gets the write answered 503 with Retry-After, and
  # the client retries. See docs/SCALING.md.
  # replicas_ack: 1
  # replicas_ack_timeout: 2s

# Operator admin API for takedowns (see docs/TAKEDOWNS.md). Blocked chunks
# are kept in the records backend: embedded, or Redis (shared by replicas).
admin:
  # Plain HTTP with a bearer token; keep it on loopback. Empty disables it
  # (also XFTPD_ADMIN_LISTEN= or --admin-listen ""). Port 0, the default,
  # takes a free port, so several xftpd on one host all start. The actual
  # address is written to DATA/admin.address, where 'xftp admin --data DATA'
  # finds it (with the token, DATA/admin.token).
  listen: 127.0.0.1:0
  # The token; generated (mode 0600) on first run if missing. Default
  # DATA/admin.token.
  token_file: ""
  # Append-only log of every block and unblock. Default DATA/admin-audit.log.
  audit_log: ""
  # true keeps the bodies of blocked chunks under DATA/quarantine instead
  # of deleting them; they are never served.
  quarantine: false

# The browser download page (docs/WEB.md): https://HOST/d/#<link> lets a
# recipient download without installing xftp; it decrypts in the browser.
web:
  # Serve the page at /d/.
  page: true
  # The name browsers use for this relay (HOST or HOST:PORT); it should be
  # the host in this relay's address. xftp prints links for it with
  # 'xftp link DESC --web --web-host HOST'.
  host: ""
  # A certificate for host under the web PKI (PEM chain and key, e.g. from
  # Let's Encrypt), served by SNI to browsers only: xftp clients keep getting
  # the identity certificate. Re-read when the file changes. Leave empty
  # behind a reverse proxy (tls: false), which holds the certificate.
  cert_file: ""
  key_file: ""

# The identity key. Default DATA/identity.pem. Replicas behind one address
# share one identity: point them all at the same file.
identity_file: ""

metrics:
  # Prometheus metrics on http://LISTEN/metrics (no IDs or addresses in
  # labels). Empty disables.
  listen: ""

# Per source IP address (kept in memory only, never logged). 0 switches a
# limit off. Behind a reverse proxy every client shares the proxy's address.
limits:
  conns_per_source: 64
  # All client connections together (an IPv6 /48 counts for at most 4 x
  # conns_per_source); past 3/4 of it only sources with fewer than 4 may
  # open more. 0: half of memory_limit at 48 KiB per idle connection
  # (192MiB: 2048).
  conns_total: 0
  creates_per_minute: 6000
  downloads_per_minute: 12000
  # Abuse reports (POST /v1/chunks/{id}/report) per source and minute.
  reports_per_minute: 10
  # Every other signed chunk request (upload, delete, ack, status, ...).
  requests_per_minute: 30000

# Receiving proxy (see docs/PROXY.md): relay clients' downloads, sealed in
# layers, to other xftp servers or proxies, so those never see the
# clients' addresses. This server's address is the proxy's address.
proxy:
  enabled: false
  # Fingerprints of the only next hops (servers and proxies) to forward
  # to; empty forwards to any xftp server that proves its identity.
  allow: []
  # Proxied requests in flight at once; more are refused with 503.
  max_concurrent: 64
  # One source address's share of it (0: a quarter).
  max_concurrent_per_source: 0
  # Proxied requests per source address per minute (in memory only).
  rate_per_minute: 1200
  # Largest answer body relayed back.
  max_body: 64MiB
  # Local IP address to connect to next hops from; empty: the system's.
  source_address: ""
  # Allow next hops on loopback, private, link-local and other internal
  # addresses. Off by default so the proxy cannot probe its own network;
  # an allow-list does not switch it on, it only narrows the next hops.
  internal_destinations: false
`
