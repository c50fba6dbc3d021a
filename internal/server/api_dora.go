package server

import (
	"net/http"
	"time"

	"conveyor.dev/conveyor/internal/observe"
)

// dora serves GET /api/v1/dora?environment=&pipeline=&window=30d: the DORA
// metrics computed from the store's deployment outcomes.
func (s *Server) dora(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	window := 30 * 24 * time.Hour
	if v := q.Get("window"); v != "" {
		d, err := observe.ParseWindow(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		window = d
	}
	src, ok := s.st.(observe.OutcomeLister)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this store keeps no deployment outcomes: DORA metrics need the server's database")
		return
	}
	rep, err := observe.ReportDORA(r.Context(), src, observe.Query{Environment: q.Get("environment"), Pipeline: q.Get("pipeline"), Window: window})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
