package httpserver

import (
	"errors"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
)

// errorBody is the JSON body of the error answer for err with code.
func errorBody(err error, code string) any {
	var be *blocklist.BlockedError
	if code == api.CodeBlocked && errors.As(err, &be) && be.Record != nil {
		return api.BlockedResponse{Error: api.CodeBlocked, Record: be.Record.Marshal()}
	}
	return api.ErrorResponse{Error: code}
}
