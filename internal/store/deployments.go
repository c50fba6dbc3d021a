package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Deployment is one successful deploy of a pipeline's manifests to an
// environment's namespace: a revision that a later failed deploy rolls
// back to.
type Deployment struct {
	ID          int64 // assigned by AddDeployment
	Environment string
	Namespace   string
	Pipeline    string
	Revision    int64 // assigned by AddDeployment: 1, 2, 3… per environment, namespace and pipeline
	RunID       string
	Commit      string
	Manifests   []byte // the objects as applied, one YAML stream
	Objects     []DeployedObject
	Images      []string  // by digest
	CreatedAt   time.Time // set by AddDeployment when zero
}

// DeployedObject names one object of a Deployment.
type DeployedObject struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// DeploymentFilter selects deployments for ListDeployments; zero fields
// match everything.
type DeploymentFilter struct {
	Environment string
	Namespace   string
	Pipeline    string
	Limit       int // 0 means no limit
}

const deploymentColumns = `id, environment, namespace, pipeline, revision, run_id, commit_sha, manifests, objects, images, created_at`

// AddDeployment assigns d.ID and d.Revision (and d.CreatedAt when zero)
// and stores d.
func (s *DB) AddDeployment(ctx context.Context, d *Deployment) error {
	if d.Environment == "" || d.Namespace == "" {
		return fmt.Errorf("add deployment: environment and namespace are required (got %q, %q)", d.Environment, d.Namespace)
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.now().UTC()
	}
	objects, err := json.Marshal(nonNilObjects(d.Objects))
	if err != nil {
		return fmt.Errorf("add deployment to %s/%s: %w", d.Environment, d.Namespace, err)
	}
	images, err := json.Marshal(nonNilSlice(d.Images))
	if err != nil {
		return fmt.Errorf("add deployment to %s/%s: %w", d.Environment, d.Namespace, err)
	}
	var id, rev int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(revision), 0) + 1 FROM deployments WHERE environment = ? AND namespace = ? AND pipeline = ?`,
			d.Environment, d.Namespace, d.Pipeline).Scan(&rev); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO deployments (environment, namespace, pipeline, revision, run_id, commit_sha, manifests, objects, images, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id`,
			d.Environment, d.Namespace, d.Pipeline, rev, d.RunID, d.Commit, nonNilBytes(d.Manifests), string(objects), string(images), d.CreatedAt.UnixNano()).Scan(&id)
	})
	if err != nil {
		return fmt.Errorf("add deployment to %s/%s: %w", d.Environment, d.Namespace, err)
	}
	d.ID, d.Revision = id, rev
	return nil
}

// LastDeployment returns the latest deployment of pipeline to
// environment/namespace; the error wraps ErrNotFound when there is none.
func (s *DB) LastDeployment(ctx context.Context, environment, namespace, pipeline string) (Deployment, error) {
	ds, err := s.ListDeployments(ctx, DeploymentFilter{Environment: environment, Namespace: namespace, Pipeline: pipeline, Limit: 1})
	if err != nil {
		return Deployment{}, err
	}
	if len(ds) == 0 {
		return Deployment{}, fmt.Errorf("deployment of %s to %s/%s: %w", pipeline, environment, namespace, ErrNotFound)
	}
	return ds[0], nil
}

// ListDeployments returns the deployments matching f, newest first.
func (s *DB) ListDeployments(ctx context.Context, f DeploymentFilter) ([]Deployment, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"environment", f.Environment}, {"namespace", f.Namespace}, {"pipeline", f.Pipeline}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + deploymentColumns + ` FROM deployments`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	var out []Deployment
	for rows.Next() {
		var d Deployment
		var objects, images string
		var created int64
		if err := rows.Scan(&d.ID, &d.Environment, &d.Namespace, &d.Pipeline, &d.Revision, &d.RunID, &d.Commit, &d.Manifests, &objects, &images, &created); err != nil {
			return nil, fmt.Errorf("list deployments: %w", err)
		}
		if err := errors.Join(json.Unmarshal([]byte(objects), &d.Objects), json.Unmarshal([]byte(images), &d.Images)); err != nil {
			return nil, fmt.Errorf("list deployments: deployment %d: %w", d.ID, err)
		}
		d.CreatedAt = time.Unix(0, created).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	return out, nil
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nonNilObjects(s []DeployedObject) []DeployedObject {
	if s == nil {
		return []DeployedObject{}
	}
	return s
}
