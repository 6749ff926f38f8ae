package web

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
	"github.com/scantron/scantron/workflows"
)

// AgentStore keeps registered agents.
type AgentStore interface {
	CreateAgent(ctx context.Context, a scan.Agent) (scan.Agent, error)
	GetAgent(ctx context.Context, id int64) (scan.Agent, error)
	ListAgents(ctx context.Context) ([]scan.Agent, error)
	DeleteAgent(ctx context.Context, id int64) error
}

type agentHandlers struct {
	base
	store AgentStore
}

type agentRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// An agent's name becomes part of its task queue and of command lines, so
// it is kept to a small, unambiguous alphabet.
var agentName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func (r agentRequest) agent() (scan.Agent, error) {
	name := strings.TrimSpace(r.Name)
	if name == "" {
		return scan.Agent{}, badRequest("name: required")
	}
	if !agentName.MatchString(name) {
		return scan.Agent{}, badRequest("name: %q is not a valid agent name: use 1 to 63 of a-z, 0-9, '-', '_' and '.', starting with a letter or digit", clip(name))
	}
	desc, err := cleanText("description", r.Description, maxDescriptionLen)
	if err != nil {
		return scan.Agent{}, err
	}
	return scan.Agent{Name: name, Description: desc, TaskQueue: workflows.AgentTaskQueue(name)}, nil
}

func (h *agentHandlers) create(c *gin.Context) error {
	var req agentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	a, err := req.agent()
	if err != nil {
		return err
	}
	row, err := h.store.CreateAgent(c.Request.Context(), a)
	if err != nil {
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: an agent named %q already exists", a.Name)
	}
	created(c, "agents", row.ID, row)
	return nil
}

func (h *agentHandlers) list(c *gin.Context) error { return listAll(c, h.store.ListAgents) }

func (h *agentHandlers) get(c *gin.Context) error { return getByID(c, "agent", h.store.GetAgent) }

func (h *agentHandlers) delete(c *gin.Context) error {
	return deleteByID(c, "agent", h.store.DeleteAgent, "is used by a scan; delete or change that scan first")
}
