package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/workflows"
)

// AgentStore is what the agent handlers read and record of agents
// besides the operations (manage.AgentStore).
type AgentStore interface {
	TouchAgent(ctx context.Context, id int64, at time.Time) error
	// ListUnfinishedRuns lists the runs whose shards may be running now.
	ListUnfinishedRuns(ctx context.Context, createdBefore time.Time) ([]scan.Run, error)
}

// AgentPresence tells who polls a task queue: Temporal's view of which
// agents are up. *client.Client satisfies it.
type AgentPresence interface {
	DescribeTaskQueue(ctx context.Context, taskQueue string, taskQueueType enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error)
}

// onlineWithin is how recently an agent must have polled to count as
// online. A live worker's long poll returns, and is renewed, at least about
// once a minute even when there is no work.
const onlineWithin = 2 * time.Minute

// agentView is an agent as the API and UI show it: the registration and
// whether a worker is polling its task queue now.
type agentView struct {
	scan.Agent
	Online  bool     `json:"online"`
	Pollers []string `json:"pollers"` // worker identities, e.g. scantron-agent-edge-1@host version=v1 capacity=2
	// Version and Capacity are what the live agent announces ("" and 0
	// while it is offline).
	Version  string `json:"version,omitempty"`
	Capacity int    `json:"capacity,omitempty"`
	// MaxRate is the packets per second the live agent lets any scanner
	// send (its SCANTRON_AGENT_MAX_RATE; 0 when it sets none or is offline).
	MaxRate float64 `json:"max_rate,omitempty"`
	// RawSockets is the scanners of the live agent that can open raw
	// sockets, as it announces them ("nmap,masscan", "none"; "" when it
	// does not say or is offline).
	RawSockets string `json:"raw_sockets,omitempty"`
	// RunningShards is how many shards the agent is scanning now, as
	// Temporal reports the unfinished runs' scanner activities.
	RunningShards int `json:"running_shards"`
	// SignsResults: the agent has a credential, and only results it signed
	// are accepted.
	SignsResults bool `json:"signs_results"`
}

// createdAgent is the answer to a registration: the only time the agent's
// credential is shown. The server keeps only its public key.
type createdAgent struct {
	agentView
	Credential string `json:"credential"`
}

type agentHandlers struct {
	base
	store    AgentStore
	agents   AgentService
	presence AgentPresence
	runs     WorkflowDescriber // nil: running shards are not counted
	now      func() time.Time
}

// AgentService is what the agent handlers and forms ask of agents;
// *manage.Agents does it.
type AgentService interface {
	Create(ctx context.Context, in manage.AgentInput) (scan.Agent, string, error)
	Get(ctx context.Context, id int64) (scan.Agent, error)
	List(ctx context.Context) ([]scan.Agent, error)
	Delete(ctx context.Context, id int64) error
}

// WorkflowDescriber asks Temporal about one workflow.
type WorkflowDescriber interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// runningShards counts, per agent name, the scanner activities of
// unfinished runs that an agent has started and not finished. It is best
// effort, like a run's progress: Temporal being slow must not fail a page.
func (h *agentHandlers) runningShards(ctx context.Context) map[string]int {
	out := map[string]int{}
	if h.runs == nil {
		return out
	}
	runs, err := h.store.ListUnfinishedRuns(ctx, time.Now().Add(time.Hour)) // every unfinished run
	if err != nil {
		h.log.Warn("list unfinished runs", "error", err)
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for _, r := range runs {
		pending, _ := pendingScanners(ctx, h.runs, r.WorkflowID)
		for _, pa := range pending {
			if pa.GetState() != enumspb.PENDING_ACTIVITY_STATE_STARTED {
				continue
			}
			if p, ok := workflows.ParseAgentIdentity(pa.GetLastWorkerIdentity()); ok {
				out[p.Name]++
			}
		}
	}
	return out
}

// views adds presence to agents. The newest poll seen is kept as the agent's
// last-seen time, so it outlives Temporal's short memory of pollers. When
// Temporal cannot be asked, agents show as offline with their stored time.
func (h *agentHandlers) views(ctx context.Context, agents []scan.Agent) []agentView {
	out := make([]agentView, 0, len(agents))
	running := h.runningShards(ctx)
	for _, a := range agents {
		v := agentView{Agent: a, Pollers: []string{}, SignsResults: len(a.PublicKey) > 0, RunningShards: running[a.Name]}
		resp, err := h.presence.DescribeTaskQueue(ctx, a.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			h.log.Warn("describe agent task queue", "agent", a.Name, "error", err)
			out = append(out, v)
			continue
		}
		var newest time.Time
		for _, p := range resp.GetPollers() {
			at := p.GetLastAccessTime().AsTime()
			if at.After(newest) {
				newest = at
			}
			if h.now().Sub(at) <= onlineWithin {
				v.Online = true
				v.Pollers = append(v.Pollers, p.GetIdentity())
				if id, ok := workflows.ParseAgentIdentity(p.GetIdentity()); ok {
					v.Version, v.Capacity, v.MaxRate, v.RawSockets = id.Version, id.Capacity, id.MaxRate, id.RawSockets
				}
			}
		}
		if !newest.IsZero() && (a.LastSeenAt == nil || newest.After(*a.LastSeenAt)) {
			if err := h.store.TouchAgent(ctx, a.ID, newest); err != nil {
				h.log.Warn("record agent last seen", "agent", a.Name, "error", err)
			}
			v.LastSeenAt = &newest
		}
		out = append(out, v)
	}
	return out
}

// An agent's name becomes part of its task queue and of command lines, so
// it is kept to a small, unambiguous alphabet.
var agentName = manage.QueueName

func (h *agentHandlers) create(c *gin.Context) error {
	var in manage.AgentInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	row, credential, err := h.agents.Create(c.Request.Context(), in)
	if err != nil {
		return err
	}
	created(c, "agents", row.ID, createdAgent{agentView: h.views(c.Request.Context(), []scan.Agent{row})[0], Credential: credential})
	return nil
}

func (h *agentHandlers) list(c *gin.Context) error {
	return listPaged(c, h.page)
}

// page is the page of agents lq chooses, with their presence.
func (h *agentHandlers) page(ctx context.Context, lq listQuery) ([]agentView, int, error) {
	agents, err := h.agents.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	// Paged before asking Temporal who is online, which costs a call per agent.
	agents, total := pageRows(lq, agents, func(a scan.Agent) string { return a.Name })
	return h.views(ctx, agents), total, nil
}

func (h *agentHandlers) get(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, err := h.agents.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.views(c.Request.Context(), []scan.Agent{a})[0])
	return nil
}

func (h *agentHandlers) delete(c *gin.Context) error { return deleteOne(c, h.agents.Delete) }
