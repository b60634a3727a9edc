package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
	"github.com/xftp/xftp/storage/redis"
)

// defaultAdminListen is where the admin API listens unless configured: a
// free loopback port, so several xftpd on one host all start. Its address
// goes to DATA/admin.address, where 'xftp admin --data DATA' finds it.
const defaultAdminListen = "127.0.0.1:0"

// AdminConfig configures takedowns: the admin API's listener and token,
// the audit log and quarantine. The blocklist lives in the records backend.
type AdminConfig struct {
	// Listen is the admin API's HOST:PORT; empty disables the API.
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token (default DATA/admin.token),
	// generated on first run.
	TokenFile string `yaml:"token_file"`
	// AuditLog is the append-only log of changes (default DATA/admin-audit.log).
	AuditLog string `yaml:"audit_log"`
	// Quarantine keeps blocked bodies under DATA/quarantine instead of
	// deleting them.
	Quarantine bool `yaml:"quarantine"`
}

func (a AdminConfig) validate() error {
	if a.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(a.Listen); err != nil {
		return fmt.Errorf("admin.listen: %q is not HOST:PORT (empty disables the admin API)", a.Listen)
	}
	return nil
}

func (a AdminConfig) tokenFile(data string) string {
	if a.TokenFile != "" {
		return a.TokenFile
	}
	return filepath.Join(data, "admin.token")
}

// takedowns holds the blocklist, audit log and quarantine the service
// uses, and the admin API's server.
type takedowns struct {
	cfg        Config
	log        *slog.Logger
	blocks     blocklist.Store
	reports    reports.Store
	audit      *server.FileAuditLog
	quarantine storage.Store
	srv        *http.Server
	// xftpKeyHash lets the admin API take SimpleX descriptions (xftp.go).
	xftpKeyHash *[32]byte
}

// openTakedowns opens the blocklist in the records backend (bbolt file or
// Redis) with the audit log and, if configured, the quarantine store.
func openTakedowns(cfg Config, b *backends, log *slog.Logger) (t *takedowns, err error) {
	t = &takedowns{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	switch {
	case b.bolt != nil:
		if t.blocks, err = embedded.NewBlocklist(b.bolt); err != nil {
			return nil, err
		}
		if t.reports, err = embedded.NewReports(b.bolt, nil); err != nil {
			return nil, err
		}
	case b.redis != nil:
		// Each store in one slot (its own hash tag); with the default
		// prefix the names are those of earlier versions ({xftp}:block:).
		tag := "{" + strings.TrimSuffix(cfg.Redis.Prefix, ":") + "}:"
		blocks, reps := redis.NewBlocklist(b.redis, tag+"block:"), redis.NewReports(b.redis, tag+"abuse:")
		blocks.SetAcker(b.ack)
		reps.SetAcker(b.ack)
		t.blocks, t.reports = blocks, reps
	default:
		return nil, errors.New("no backend for the blocklist")
	}
	auditPath := cfg.Admin.AuditLog
	if auditPath == "" {
		auditPath = filepath.Join(cfg.Data, "admin-audit.log")
	}
	if t.audit, err = server.OpenAuditLog(auditPath); err != nil {
		return nil, fmt.Errorf("admin.audit_log: %w", err)
	}
	if cfg.Admin.Quarantine {
		if t.quarantine, err = disk.Open(filepath.Join(cfg.Data, "quarantine")); err != nil {
			return nil, fmt.Errorf("admin.quarantine: %w", err)
		}
	}
	return t, nil
}

// options adds the takedown collaborators to o.
func (t *takedowns) options(o server.Options) server.Options {
	o.Blocklist, o.Audit, o.Reports = t.blocks, t.audit, t.reports
	if t.quarantine != nil {
		o.Quarantine = t.quarantine
	}
	return o
}

// serve starts the admin API, unless admin.listen is empty. Its address
// goes to DATA/admin.address (useful with port 0).
func (t *takedowns) serve(svc *server.Service) error {
	addrFile := filepath.Join(t.cfg.Data, "admin.address")
	if t.cfg.Admin.Listen == "" {
		os.Remove(addrFile)
		t.log.Info("admin API disabled (admin.listen is empty)")
		return nil
	}
	token, created, err := loadOrCreateToken(t.cfg.Admin.tokenFile(t.cfg.Data))
	if err != nil {
		return fmt.Errorf("admin.token_file: %w", err)
	}
	if created {
		t.log.Info("created the admin API token", "file", t.cfg.Admin.tokenFile(t.cfg.Data))
	}
	h, err := httpserver.NewAdminHandler(server.NewModeration(svc), token, t.log)
	if err != nil {
		return err
	}
	if t.xftpKeyHash != nil {
		h.EnableXFTP(*t.xftpKeyHash)
	}
	ln, err := net.Listen("tcp", t.cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen: %w%s", err, inUseHint(err, "--admin-listen"))
	}
	tcp := ln.Addr().(*net.TCPAddr)
	if !tcp.IP.IsLoopback() {
		t.log.Warn("the admin API listens beyond loopback in plain HTTP; put TLS in front of it", "listen", ln.Addr().String())
	}
	base := "http://" + ln.Addr().String()
	if err := writeAddress(addrFile, base); err != nil {
		ln.Close()
		return err
	}
	t.srv = &http.Server{
		Handler:           h.Routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    api.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(t.log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := t.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.log.Error("admin API stopped", "err", err)
		}
	}()
	t.log.Info("admin API serving", "url", base)
	return nil
}

func (t *takedowns) close() {
	if t.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.srv.Shutdown(ctx)
		cancel()
	}
	if t.audit != nil {
		t.audit.Close()
	}
	if t.blocks != nil {
		t.blocks.Close()
	}
}

// loadOrCreateToken reads the admin token from path, or creates it with a
// fresh random token (mode 0600). A token file others can read is refused.
func loadOrCreateToken(path string) (token string, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var raw [32]byte
		rand.Read(raw[:])
		token = base64.RawURLEncoding.EncodeToString(raw[:])
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", false, err
		}
		_, werr := f.WriteString(token + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			os.Remove(path)
			return "", false, err
		}
		return token, true, nil
	}
	if err != nil {
		return "", false, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", false, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", false, fmt.Errorf("%s is readable by others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	token = strings.TrimSpace(string(b))
	if len(token) < 16 {
		return "", false, fmt.Errorf("%s holds a token shorter than 16 characters", path)
	}
	return token, false, nil
}
