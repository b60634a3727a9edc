package client

import (
	"context"
	"errors"

	"github.com/xftp/xftp/api/xftp"
)

// dialXFTP connects to an XFTP server with api/xftpclient.
func dialXFTP(ctx context.Context, addr xftp.Address) (xftpServer, error) {
	return nil, errors.New("the XFTP client (api/xftpclient) is not built in yet")
}
