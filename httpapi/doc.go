// Package httpapi is gomha manager's HTTP API and Prometheus metrics
// (gomha manager --http ADDR): read-only, for dashboards, scripts,
// Prometheus and HAProxy.
//
// # Endpoints
//
//	GET /healthz                                      {"status":"ok","clusters":N}
//	GET /metrics                                      Prometheus text format
//	GET /api/v1/clusters                              ClusterList
//	GET /api/v1/clusters/{name}                       what gomha show -o json prints (manager.Show)
//	GET /api/v1/clusters/{name}/failovers[?limit=N&kind=failover|switchover]   Reports, newest first
//	GET /api/v1/clusters/{name}/route/{host:port}     200 or 503, one line: may clients write there?
//	GET /api/v1/clusters/{name}/route-replica/{host:port}[?max_lag=S]   200 or 503, one line: may they read there?
//
// Errors are {"error": "..."}: 404 for an unknown cluster, server or
// endpoint, 400 for a malformed host:port or query, 401 without the
// credentials. JSON field names are snake_case and stable; a field is
// added, never renamed.
//
// Snapshots: manager.BuildShow connects to every server of a cluster, so
// each cluster's snapshot is kept for Options.ShowTTL (1 s) and shared by
// the show, the list, the replica routes and the metrics; concurrent
// requests for a stale one wait for a single build. The show's response
// says how old it is in the X-Gomha-Snapshot-Age header (seconds) and
// X-Gomha-Snapshot-Time; the list in snapshot_age_seconds.
//
// The master route reads the manager's status file and view file only
// (no server): 200 when the status is PING_OK with that master, the
// status file is fresh (touched within three ping intervals), the view
// (written by the same running manager) names the same master as
// healthy, it is not a deposed old master, and this process runs the
// cluster's manager when a supervisor state is known. During a failover,
// or while the master is suspect or dead, every server gets 503.
//
// # Adding a route
//
// Register it on the server before Serve, with a Go 1.22 pattern; it is
// served behind the same authentication as the API:
//
//	srv := httpapi.New(opts)
//	srv.Handle("GET /{$}", statuspage.Handler())   // the status page, at / only (httpapi/statuspage)
//	srv.Handle("GET /api/v1/clusters/{name}/thing", thing)
//	err := srv.Serve(ctx, addr)
//
// A handler reads what the API reads through the exported methods:
// Clusters (the clusters served), Show (a cluster's cached snapshot and
// its time) and Reports (a cluster's failover and switchover reports,
// newest first). GET requests under /api/ that no route matches answer
// a JSON 404; the rest of the URL space is free ("GET /{$}" for a page at
// / alone, or "GET /" for a page and its assets).
package httpapi
