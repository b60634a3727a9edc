package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"gopkg.in/yaml.v3"

	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage/redis"
)

// Config is xftpd's configuration file (YAML). Every key can also be set
// from the environment as XFTPD_<PATH> (e.g. XFTPD_STORAGE_S3_BUCKET), and
// the command-line flags override both. Secrets are read from files or the
// environment, never from the command line.
type Config struct {
	Data       string   `yaml:"data"`
	Listen     string   `yaml:"listen"`
	Host       string   `yaml:"host"`
	TLS        bool     `yaml:"tls"`
	ChunkSizes []Size   `yaml:"chunk_sizes"`
	Expiry     Duration `yaml:"expiry"`
	Quota      Size     `yaml:"quota"`
	// PasswordFile holds the upload password (or env XFTPD_PASSWORD).
	PasswordFile string   `yaml:"password_file"`
	NewChunks    bool     `yaml:"new_chunks"`
	Grace        Duration `yaml:"grace"`
	MaxStreams   int      `yaml:"max_streams"`
	// MemoryLimit is the Go runtime's soft memory limit (GOMEMLIMIT wins
	// if set); 0: none.
	MemoryLimit Size `yaml:"memory_limit"`
	Log         struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Storage struct {
		Backend string `yaml:"backend"` // fs or s3
		S3      struct {
			Endpoint      string   `yaml:"endpoint"`
			Endpoints     []string `yaml:"endpoints"`
			Bucket        string   `yaml:"bucket"`
			Region        string   `yaml:"region"`
			AccessKey     string   `yaml:"access_key"`
			SecretKeyFile string   `yaml:"secret_key_file"` // or env XFTPD_S3_SECRET_KEY
			UseTLS        bool     `yaml:"use_tls"`
			PathStyle     bool     `yaml:"path_style"`
			CreateBucket  bool     `yaml:"create_bucket"`
			Prefix        string   `yaml:"prefix"`
		} `yaml:"s3"`
	} `yaml:"storage"`
	Records struct {
		Backend string `yaml:"backend"` // embedded or redis
	} `yaml:"records"`
	Redis RedisConfig `yaml:"redis"`
	Admin AdminConfig `yaml:"admin"` // see admin.go
	Proxy ProxyConfig `yaml:"proxy"` // see proxy.go
	Web   WebConfig   `yaml:"web"`   // see web.go
	XFTP  XFTPConfig  `yaml:"xftp"`  // see xftp.go
	// IdentityFile is the identity key (default DATA/identity.pem);
	// replicas share one.
	IdentityFile string `yaml:"identity_file"`
	Metrics      struct {
		// Listen serves Prometheus metrics on /metrics; empty disables.
		Listen string `yaml:"listen"`
	} `yaml:"metrics"`
	Limits struct {
		ConnsPerSource int `yaml:"conns_per_source"`
		// ConnsTotal caps all client connections; 0: derived from
		// memory_limit (connsTotal).
		ConnsTotal         int `yaml:"conns_total"`
		CreatesPerMinute   int `yaml:"creates_per_minute"`
		DownloadsPerMinute int `yaml:"downloads_per_minute"`
		ReportsPerMinute   int `yaml:"reports_per_minute"`
		RequestsPerMinute  int `yaml:"requests_per_minute"`
	} `yaml:"limits"`
}

// RedisConfig says which Redis keeps the records: one server, a Redis
// Cluster (Cluster, Addresses listing some of its nodes) or a
// Sentinel-managed master (Sentinel.MasterName, Addresses listing the
// Sentinels).
type RedisConfig struct {
	// Address is one server; kept for older configurations, it joins
	// Addresses.
	Address      string   `yaml:"address"`
	Addresses    []string `yaml:"addresses"`
	Cluster      bool     `yaml:"cluster"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"` // or env XFTPD_REDIS_PASSWORD
	DB           int      `yaml:"db"`
	Prefix       string   `yaml:"prefix"`
	TLS          bool     `yaml:"tls"`
	// ReplicasAck is how many replicas must hold a write before xftpd
	// acknowledges it (WAIT); unset: 1 with cluster or Sentinel, 0 (no
	// wait) for one server. ReplicasAckTimeout bounds the wait; a write
	// that misses it is answered 503 and the client retries.
	ReplicasAck        *int     `yaml:"replicas_ack"`
	ReplicasAckTimeout Duration `yaml:"replicas_ack_timeout"`
	Sentinel           struct {
		MasterName   string `yaml:"master_name"`
		Username     string `yaml:"username"`
		PasswordFile string `yaml:"password_file"` // or env XFTPD_REDIS_SENTINEL_PASSWORD
	} `yaml:"sentinel"`
}

// addresses is Address and Addresses together.
func (r RedisConfig) addresses() []string {
	if r.Address == "" {
		return r.Addresses
	}
	return append([]string{r.Address}, r.Addresses...)
}

// validate names the redis key that is wrong, if one is.
func (r RedisConfig) validate() error {
	addrs := r.addresses()
	switch {
	case len(addrs) == 0:
		return errors.New("redis.addresses: required when records.backend is redis")
	case r.Cluster && r.Sentinel.MasterName != "":
		return errors.New("redis.cluster and redis.sentinel.master_name exclude each other")
	case r.Cluster && r.DB != 0:
		return errors.New("redis.db: a Redis Cluster has only database 0")
	case !r.Cluster && r.Sentinel.MasterName == "" && len(addrs) > 1:
		return errors.New("redis.addresses: several addresses need redis.cluster: true (cluster nodes) or redis.sentinel.master_name (Sentinels)")
	}
	if err := redis.CheckPrefix(r.Prefix); err != nil {
		return fmt.Errorf("redis.prefix: %w", err)
	}
	if r.ReplicasAck != nil && *r.ReplicasAck < 0 {
		return errors.New("redis.replicas_ack: must be 0 (no wait) or more")
	}
	if t := time.Duration(r.ReplicasAckTimeout); t < 0 || t > time.Minute {
		return errors.New("redis.replicas_ack_timeout: must be between 0 (the default, 2s) and 1m")
	}
	return nil
}

// replicasAck is ReplicasAck with its default.
func (r RedisConfig) replicasAck() int {
	switch {
	case r.ReplicasAck != nil:
		return *r.ReplicasAck
	case r.Cluster || r.Sentinel.MasterName != "":
		return 1
	}
	return 0
}

// identityPath is where the identity key lives.
func (c Config) identityPath() string {
	if c.IdentityFile != "" {
		return c.IdentityFile
	}
	return filepath.Join(c.Data, "identity.pem")
}

// Size is a byte count written with units: 64KiB, 10GiB, 500MB.
type Size int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if err := s.set(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

func (s *Size) set(v string) error {
	b, err := humanize.ParseBytes(v)
	if err != nil || b > 1<<62 {
		return fmt.Errorf("%q is not a size (use units like 64KiB, 10GiB, 500MB)", v)
	}
	*s = Size(b)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (s Size) MarshalYAML() (any, error) { return humanize.IBytes(uint64(s)), nil }

// Duration is a duration written like 48h, 90m, 30s or 7d.
type Duration time.Duration

// maxDays is the most days a Duration holds (about 292 years).
const maxDays = int64(1<<63-1) / int64(24*time.Hour)

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.set(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

func (d *Duration) set(v string) error {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.ParseInt(days, 10, 64); err == nil && n >= 0 {
			// More days than a time.Duration holds wrapped around
			// (213504d was 25 minutes).
			if n > maxDays {
				return fmt.Errorf("%q is longer than a duration can be (%dd)", v, maxDays)
			}
			*d = Duration(time.Duration(n) * 24 * time.Hour)
			return nil
		}
	}
	t, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use 48h, 90m, 30s or 7d)", v)
	}
	*d = Duration(t)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Set, String and Type make Duration a command-line flag value, so flags
// take 7d as the file and the environment do.
func (d *Duration) Set(v string) error { return d.set(v) }
func (d *Duration) String() string     { return time.Duration(*d).String() }
func (d *Duration) Type() string       { return "duration" }

func defaultConfig() Config {
	var c Config
	c.Data = "xftpd-data"
	c.Listen = "127.0.0.1:5443"
	c.TLS = true
	for _, s := range server.DefaultConfig().ChunkSizes {
		c.ChunkSizes = append(c.ChunkSizes, Size(s))
	}
	c.Expiry = Duration(48 * time.Hour)
	c.NewChunks = true
	c.Grace = Duration(30 * time.Second)
	c.MaxStreams = 128
	c.MemoryLimit = 192 << 20
	c.Log.Level, c.Log.Format = "info", "text"
	c.Storage.Backend = "fs"
	c.Storage.S3.Region = "us-east-1"
	c.Storage.S3.PathStyle = true
	c.Records.Backend = "embedded"
	c.Redis.Prefix = "xftp:"
	c.Admin.Listen = defaultAdminListen
	c.Proxy = defaultProxyConfig()
	c.Web.Page = true
	c.XFTP = defaultXFTPConfig()
	l := httpserver.DefaultLimits()
	c.Limits.ConnsPerSource, c.Limits.CreatesPerMinute, c.Limits.DownloadsPerMinute = l.ConnsPerSource, l.CreatesPerMinute, l.DownloadsPerMinute
	c.Limits.ReportsPerMinute, c.Limits.RequestsPerMinute = l.ReportsPerMinute, l.RequestsPerMinute
	return c
}

// loadConfig reads the file at path (if any) over the defaults, then applies
// the environment; an empty variable counts as unset.
func loadConfig(path string, env func(string) string) (Config, error) {
	return loadConfigLookup(path, func(k string) (string, bool) { v := env(k); return v, v != "" })
}

// loadConfigLookup is loadConfig with the environment as os.LookupEnv: a
// text setting present but empty (XFTPD_ADMIN_LISTEN=) sets the empty
// value, which switches off what it configures.
func loadConfigLookup(path string, lookup func(string) (string, bool)) (Config, error) {
	c := defaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %s", path, yamlError(err))
		}
	}
	if err := applyEnv(reflect.ValueOf(&c).Elem(), "XFTPD", lookup); err != nil {
		return c, err
	}
	return c, nil
}

// yamlError rewords the YAML decoder's errors for people: "field lisen not
// found in type main.Config" becomes "line 3: unknown key lisen".
func yamlError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if i := strings.Index(m, ": field "); i >= 0 {
			if name, _, ok := strings.Cut(m[i+len(": field "):], " not found in type"); ok {
				m = m[:i] + ": unknown key " + name + " (see 'xftpd config example')"
			}
		}
		if i := strings.Index(m, " into "); i >= 0 && strings.Contains(m, "cannot unmarshal") {
			m = m[:i] + " into this key"
		}
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; ")
}

// envNames lists every XFTPD_* variable that sets a key of v.
func envNames(v reflect.Type, prefix string, out map[string]bool) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := prefix + "_" + strings.ToUpper(strings.Split(f.Tag.Get("yaml"), ",")[0])
		if f.Type.Kind() == reflect.Struct {
			envNames(f.Type, name, out)
			continue
		}
		out[name] = true
	}
}

// envSecrets are the XFTPD_* variables read directly rather than as keys.
// A test checks that every XFTPD_ name in this package's code is here or a key.
var envSecrets = []string{"XFTPD_CONFIG", "XFTPD_PASSWORD", "XFTPD_S3_ACCESS_KEY", "XFTPD_S3_SECRET_KEY", "XFTPD_REDIS_PASSWORD",
	"XFTPD_REDIS_SENTINEL_PASSWORD"}

// unknownEnv returns the XFTPD_* variables in environ that xftpd does not
// read (a misspelled XFTPD_QOUTA would otherwise pass unnoticed).
func unknownEnv(environ []string) []string {
	known := map[string]bool{}
	envNames(reflect.TypeOf(Config{}), "XFTPD", known)
	for _, n := range envSecrets {
		known[n] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "XFTPD_") && !known[name] {
			out = append(out, name)
		}
	}
	return out
}

// applyEnv sets each field from XFTPD_<YAML PATH> when that variable is set.
func applyEnv(v reflect.Value, prefix string, env func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + "_" + strings.ToUpper(strings.Split(f.Tag.Get("yaml"), ",")[0])
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, env); err != nil {
				return err
			}
			continue
		}
		val, ok := env(name)
		if !ok {
			continue
		}
		if val == "" {
			if fv.Kind() == reflect.String {
				fv.SetString("") // present but empty: switched off
			}
			continue
		}
		if err := setFromString(fv, val); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
	}
	return nil
}

func setFromString(fv reflect.Value, val string) error {
	switch p := fv.Addr().Interface().(type) {
	case *Size:
		return p.set(val)
	case *Duration:
		return p.set(val)
	case *[]Size:
		var out []Size
		for _, s := range strings.Split(val, ",") {
			var z Size
			if err := z.set(strings.TrimSpace(s)); err != nil {
				return err
			}
			out = append(out, z)
		}
		*p = out
		return nil
	case *string:
		*p = val
		return nil
	case *bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%q is not true or false", val)
		}
		*p = b
		return nil
	case *[]string: // lists: comma-separated
		*p = strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' })
		return nil
	case *int:
		n, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("%q is not a number", val)
		}
		*p = n
		return nil
	}
	return fmt.Errorf("cannot be set from the environment")
}

// serverConfig validates c and derives the service's policy. Errors name
// the key that is wrong.
func (c Config) serverConfig(env func(string) string) (server.Config, error) {
	sc := server.DefaultConfig()
	sc.ChunkSizes = nil
	for _, s := range c.ChunkSizes {
		sc.ChunkSizes = append(sc.ChunkSizes, int64(s))
	}
	sc.Expiry = time.Duration(c.Expiry)
	sc.Quota = int64(c.Quota)
	sc.AllowNew = c.NewChunks
	sc.Password = env("XFTPD_PASSWORD")
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return sc, fmt.Errorf("password_file: %w", err)
		}
		sc.Password = strings.TrimSpace(string(b))
	}
	switch {
	case c.Data == "":
		return sc, errors.New("data: must name a directory")
	case c.Listen == "":
		return sc, errors.New("listen: must be HOST:PORT")
	case c.MaxStreams < 1 || c.MaxStreams > 10000:
		return sc, errors.New("max_streams: must be between 1 and 10000")
	case c.MemoryLimit != 0 && c.MemoryLimit < 32<<20:
		return sc, errors.New("memory_limit: 0 (none) or at least 32MiB")
	case c.Grace < 0:
		return sc, errors.New("grace: must not be negative")
	case c.Limits.ConnsPerSource < 0 || c.Limits.ConnsTotal < 0 || c.Limits.CreatesPerMinute < 0 || c.Limits.DownloadsPerMinute < 0 || c.Limits.RequestsPerMinute < 0:
		return sc, errors.New("limits: must not be negative (0 switches a limit off)")
	case c.Storage.Backend != "fs" && c.Storage.Backend != "s3":
		return sc, fmt.Errorf("storage.backend: %q is neither fs nor s3", c.Storage.Backend)
	case c.Records.Backend != "embedded" && c.Records.Backend != "redis":
		return sc, fmt.Errorf("records.backend: %q is neither embedded nor redis", c.Records.Backend)
	case c.Storage.Backend == "s3" && c.Storage.S3.Endpoint == "" && len(c.Storage.S3.Endpoints) == 0:
		return sc, errors.New("storage.s3.endpoint: required when storage.backend is s3")
	case c.Storage.Backend == "s3" && c.Storage.S3.Bucket == "":
		return sc, errors.New("storage.s3.bucket: required when storage.backend is s3")
	case c.Storage.Backend == "s3" && c.Records.Backend == "embedded":
		return sc, errors.New("storage.backend s3 needs records.backend redis: replicas sharing a bucket must share their records")
	}
	if c.Records.Backend == "redis" {
		if err := c.Redis.validate(); err != nil {
			return sc, err
		}
	}
	if err := c.Admin.validate(); err != nil {
		return sc, err
	}
	if err := c.Web.validate(c.TLS); err != nil {
		return sc, err
	}
	if err := c.Proxy.validate(); err != nil {
		return sc, err
	}
	if err := c.XFTP.validate(); err != nil {
		return sc, err
	}
	if err := sc.Validate(); err != nil {
		return sc, fmt.Errorf("%s", strings.Replace(err.Error(), "chunk sizes", "chunk_sizes", 1))
	}
	if err := clientSizes(sc.ChunkSizes); err != nil {
		return sc, err
	}
	return sc, nil
}

// clientSizes checks chunk_sizes against the sizes xftp clients cut files
// into: a size no client uses holds nothing, and a missing one fails every
// upload of a file that needs it (with SIZE, long after start).
func clientSizes(sizes []int64) error {
	want := chunk.DefaultSizes()
	names := func(ns []int64) string {
		s := make([]string, len(ns))
		for i, n := range ns {
			switch {
			case n%(1<<20) == 0:
				s[i] = fmt.Sprintf("%dMiB", n>>20)
			case n%(1<<10) == 0:
				s[i] = fmt.Sprintf("%dKiB", n>>10)
			default:
				s[i] = fmt.Sprint(n)
			}
		}
		return strings.Join(s, ", ")
	}
	var extra, missing []int64
	for _, n := range sizes {
		if !slices.Contains(want, n) && !slices.Contains(extra, n) {
			extra = append(extra, n)
		}
	}
	for _, n := range want {
		if !slices.Contains(sizes, n) {
			missing = append(missing, n)
		}
	}
	switch {
	case len(extra) > 0:
		return fmt.Errorf("chunk_sizes: xftp clients never use %s; set [%s]", names(extra), names(want))
	case len(missing) > 0:
		return fmt.Errorf("chunk_sizes: lacks %s, so uploads that need it would fail; set [%s]", names(missing), names(want))
	}
	return nil
}

// secret reads a secret from the environment variable or else the file.
func secret(env func(string) string, envName, file string) (string, error) {
	if v := env(envName); v != "" {
		return v, nil
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// connMemory is what one idle HTTP/2 connection costs the relay: 41.6 KiB
// of RSS each, measured with 1,000 idle TLS HTTP/2 connections on loopback
// (issue 20), rounded up.
const connMemory = 48 << 10

// connsTotal is limits.conns_total, or by default as many connections as
// half the memory limit holds when idle (192 MiB: 2,048), so that idle
// connections alone cannot push the process to its memory limit, where
// the garbage collector runs without pause (10,000 idle connections: 174%
// CPU). Without a memory limit: 16,384.
func (c *Config) connsTotal() int {
	switch {
	case c.Limits.ConnsTotal > 0:
		return c.Limits.ConnsTotal
	case c.MemoryLimit > 0:
		return max(64, int(c.MemoryLimit/2/connMemory))
	}
	return 16384
}
