-- Pools of agents, and scans that run on a pool instead of one agent.
--
-- A pool is a shared task queue: its members are the agents configured to
-- poll it (their --pools setting), so membership is where the pulling
-- happens, on the agents. The server keeps the pool's name and queue, and
-- shows who polls it.

CREATE TABLE pools (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    task_queue  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pools_name_key UNIQUE (name),
    CONSTRAINT pools_task_queue_key UNIQUE (task_queue),
    CONSTRAINT pools_name_check CHECK (btrim(name) <> ''),
    CONSTRAINT pools_task_queue_check CHECK (btrim(task_queue) <> '')
);

-- A scan runs on exactly one agent or one pool.
ALTER TABLE scans ALTER COLUMN agent_id DROP NOT NULL;
ALTER TABLE scans ADD COLUMN pool_id bigint REFERENCES pools (id) ON DELETE RESTRICT;
ALTER TABLE scans ADD CONSTRAINT scans_agent_or_pool_check CHECK ((agent_id IS NULL) <> (pool_id IS NULL));
CREATE INDEX scans_pool_id_idx ON scans (pool_id);

-- Most addresses one shard covers; NULL uses the server's setting.
ALTER TABLE scans ADD COLUMN shard_size bigint CHECK (shard_size > 0);

-- Which agent produced a shard's stored output: in a pool that is known only
-- once a member has run it, and a retry may move it to another member.
ALTER TABLE shards ADD COLUMN ran_by text NOT NULL DEFAULT '';

-- The most packets per second a masscan scan of the site may send; the
-- lower of this and the profile's --rate applies. NULL: no cap of the site's.
ALTER TABLE sites ADD COLUMN max_rate integer CHECK (max_rate > 0);

-- A run that was cancelled or failed keeps what its shards had stored;
-- partial says it has some.
ALTER TABLE runs ADD COLUMN partial boolean NOT NULL DEFAULT false;

-- A run can be paused: its shards wait until it is resumed. A paused run
-- has not ended, so the reconciler watches it like a running one.
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('pending', 'running', 'parsing', 'paused', 'completed', 'failed', 'cancelled'));
DROP INDEX runs_unfinished_idx;
CREATE INDEX runs_unfinished_idx ON runs (created_at) WHERE status IN ('pending', 'running', 'parsing', 'paused');

-- The public half of an agent's credential: results the agent reports are
-- signed with the private half, which only the agent has. NULL for agents
-- registered before credentials existed, whose results are not checked.
ALTER TABLE agents ADD COLUMN public_key bytea CHECK (length(public_key) = 32);
