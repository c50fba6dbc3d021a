// Package deploy_test checks what deploy/ ships for running Conveyor:
// the Prometheus rules with Debian's promtool, the Grafana dashboards'
// queries against Conveyor's metric registry, a real Prometheus scraping
// a real conveyor server, and the Kubernetes manifests against a real API
// server.
package deploy_test
