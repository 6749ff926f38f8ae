package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// PoolStore keeps pools.
type PoolStore interface {
	CreatePool(ctx context.Context, p scan.Pool) (scan.Pool, error)
	GetPool(ctx context.Context, id int64) (scan.Pool, error)
	ListPools(ctx context.Context) ([]scan.Pool, error)
	DeletePool(ctx context.Context, id int64) error
}

// poolView is a pool with the agents polling its queue now: its members.
type poolView struct {
	scan.Pool
	Online   bool                    `json:"online"`
	Capacity int                     `json:"capacity"` // scans its live members run at once
	Members  []workflows.AgentPoller `json:"members"`
}

type poolHandlers struct {
	base
	store    PoolStore
	presence AgentPresence
	agents   *agentHandlers // for its clock
}

// view adds the live members. Agents join a pool by polling its queue
// (their --pools setting), so Temporal's pollers are the membership.
func (h *poolHandlers) view(ctx context.Context, p scan.Pool) poolView {
	v := poolView{Pool: p, Members: []workflows.AgentPoller{}}
	resp, err := h.presence.DescribeTaskQueue(ctx, p.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		h.log.Warn("describe pool task queue", "pool", p.Name, "error", err)
		return v
	}
	for _, m := range workflows.LiveAgents(resp.GetPollers(), h.agents.now(), onlineWithin) {
		v.Members = append(v.Members, m)
		v.Capacity += m.Capacity
	}
	v.Online = len(v.Members) > 0
	return v
}

type poolRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (h *poolHandlers) create(c *gin.Context) error {
	var req poolRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		return badRequest("name: required")
	}
	// The name becomes a task queue and a value of agents' --pools.
	if !agentName.MatchString(name) {
		return badRequest("name: %q is not a valid pool name: use 1 to 63 of a-z, 0-9, '-', '_' and '.', starting with a letter or digit", clip(name))
	}
	desc, err := cleanText("description", req.Description, maxDescriptionLen)
	if err != nil {
		return err
	}
	row, err := h.store.CreatePool(c.Request.Context(), scan.Pool{Name: name, Description: desc, TaskQueue: workflows.PoolTaskQueue(name)})
	if err != nil {
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: a pool named %q already exists", name)
	}
	created(c, "pools", row.ID, h.view(c.Request.Context(), row))
	return nil
}

func (h *poolHandlers) list(c *gin.Context) error {
	lq, err := readList(c)
	if err != nil {
		return err
	}
	pools, err := h.store.ListPools(c.Request.Context())
	if err != nil {
		return err
	}
	pools, total := pageRows(lq, pools, func(p scan.Pool) string { return p.Name })
	out := make([]poolView, 0, len(pools))
	for _, p := range pools {
		out = append(out, h.view(c.Request.Context(), p))
	}
	writeList(c, out, total)
	return nil
}

func (h *poolHandlers) get(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p, err := h.store.GetPool(c.Request.Context(), id)
	if err != nil {
		return mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "pool %d not found", id)
	}
	c.JSON(http.StatusOK, h.view(c.Request.Context(), p))
	return nil
}

func (h *poolHandlers) delete(c *gin.Context) error {
	return deleteByID(c, "pool", h.store.DeletePool, "is used by a scan; delete or change that scan first")
}
