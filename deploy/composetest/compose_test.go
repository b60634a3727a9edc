package composetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

const root = "../.."

func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(envList), cli.WithName("xftp"), cli.WithProfiles([]string{"monitoring"}))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy/.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

func TestComposeFileLoads(t *testing.T) {
	p, err := loadCompose(t, exampleEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"xftpd", "lb", "minio", "redis", "prometheus", "grafana"} {
		if _, err := p.GetService(name); err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
	}
	x, _ := p.GetService("xftpd")
	if x.Deploy == nil || x.Deploy.Replicas == nil || *x.Deploy.Replicas < 2 {
		t.Fatal("xftpd must run at least two replicas")
	}
	for _, name := range []string{"xftpd", "minio", "redis", "lb"} {
		s, _ := p.GetService(name)
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("service %s has no health check", name)
		}
	}
	r, _ := p.GetService("redis")
	if !strings.Contains(strings.Join(r.Command, " "), "--appendonly yes") {
		t.Error("redis must run with AOF persistence")
	}
	for _, v := range []string{"identity", "minio-data", "redis-data"} {
		if _, ok := p.Volumes[v]; !ok {
			t.Errorf("volume %s missing: its data would not survive", v)
		}
	}
	// Files the compose file mounts exist.
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s mounts missing %s", s.Name, v.Source)
				}
			}
		}
	}
}

// No default secrets: without the operator's .env, loading fails.
func TestComposeRefusesMissingSecrets(t *testing.T) {
	env := exampleEnv(t)
	delete(env, "REDIS_PASSWORD")
	if _, err := loadCompose(t, env); err == nil || !strings.Contains(err.Error(), "REDIS_PASSWORD") {
		t.Fatalf("compose loaded without REDIS_PASSWORD: %v", err)
	}
}

func TestKubernetesManifestsParse(t *testing.T) {
	kinds := parseManifests(t, "deploy/k8s/xftpd.yaml")
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler"} {
		if !kinds[k] {
			t.Errorf("no %s in the manifests", k)
		}
	}
	kinds = parseManifests(t, "deploy/k8s/storage-cluster.yaml")
	for _, k := range []string{"StatefulSet", "Service", "Job", "ConfigMap"} {
		if !kinds[k] {
			t.Errorf("no %s in the storage manifests", k)
		}
	}
}

func parseManifests(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc struct {
			APIVersion string         `yaml:"apiVersion"`
			Kind       string         `yaml:"kind"`
			Metadata   map[string]any `yaml:"metadata"`
			Data       map[string]string
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc.APIVersion == "" || doc.Kind == "" || doc.Metadata["name"] == nil {
			t.Fatalf("manifest without apiVersion, kind or name: %+v", doc)
		}
		kinds[doc.Kind] = true
		if doc.Kind == "ConfigMap" {
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(doc.Data["xftpd.yaml"]), &cfg); err != nil {
				t.Fatalf("embedded xftpd.yaml: %v", err)
			}
		}
	}
	return kinds
}

func TestMonitoringFilesParse(t *testing.T) {
	var prom map[string]any
	b, _ := os.ReadFile(filepath.Join(root, "deploy/monitoring/prometheus.yml"))
	if err := yaml.Unmarshal(b, &prom); err != nil || prom["scrape_configs"] == nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	b, _ = os.ReadFile(filepath.Join(root, "deploy/monitoring/grafana-dashboard.json"))
	if err := json.Unmarshal(b, &dash); err != nil || len(dash.Panels) == 0 {
		t.Fatalf("grafana dashboard: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, "xftp_") {
				t.Errorf("panel query %q uses no xftp metric", tg.Expr)
			}
		}
	}
}

// TestClusterOverrideLoads loads docker-compose.yml with the Redis Cluster
// and distributed MinIO override.
func TestClusterOverrideLoads(t *testing.T) {
	var envList []string
	for k, v := range exampleEnv(t) {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml"), filepath.Join(root, "deploy/compose.cluster.yaml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(envList), cli.WithName("xftp"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"xftpd", "redis-0", "redis-5", "redis-cluster-init", "minio1", "minio4"} {
		if _, err := p.GetService(name); err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
	}
	for _, name := range []string{"redis", "minio"} {
		if _, err := p.GetService(name); err == nil {
			t.Errorf("single-node service %s is still started", name)
		}
	}
	x, _ := p.GetService("xftpd")
	if _, ok := x.DependsOn["redis-cluster-init"]; !ok {
		t.Errorf("xftpd does not wait for the cluster: %v", x.DependsOn)
	}
}
