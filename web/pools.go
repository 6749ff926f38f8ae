package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// PoolStore keeps pools.
type PoolStore = manage.PoolStore

// PoolService is what the pool handlers and forms ask of pools;
// *manage.Pools does it.
type PoolService interface {
	Create(ctx context.Context, in manage.PoolInput) (scan.Pool, error)
	Get(ctx context.Context, id int64) (scan.Pool, error)
	List(ctx context.Context) ([]scan.Pool, error)
	Delete(ctx context.Context, id int64) error
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
	pools    PoolService
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

func (h *poolHandlers) create(c *gin.Context) error {
	var in manage.PoolInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	row, err := h.pools.Create(c.Request.Context(), in)
	if err != nil {
		return err
	}
	created(c, "pools", row.ID, h.view(c.Request.Context(), row))
	return nil
}

func (h *poolHandlers) list(c *gin.Context) error {
	return listPaged(c, h.page)
}

// page is the page of pools lq chooses, with their live members.
func (h *poolHandlers) page(ctx context.Context, lq listQuery) ([]poolView, int, error) {
	pools, err := h.pools.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	pools, total := pageRows(lq, pools, func(p scan.Pool) string { return p.Name })
	out := make([]poolView, 0, len(pools))
	for _, p := range pools {
		out = append(out, h.view(ctx, p))
	}
	return out, total, nil
}

func (h *poolHandlers) get(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p, err := h.pools.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.view(c.Request.Context(), p))
	return nil
}

func (h *poolHandlers) delete(c *gin.Context) error {
	return deleteOne(c, h.pools.Delete)
}
