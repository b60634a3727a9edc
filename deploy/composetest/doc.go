// Package composetest validates the deployment files with real loaders: the
// root docker-compose.yml with the compose-spec loader, and the Kubernetes,
// Prometheus and Grafana files as YAML/JSON of the expected shape. It is a
// separate module so that compose-go stays out of the main module's
// dependencies. No container engine is needed.
package composetest
