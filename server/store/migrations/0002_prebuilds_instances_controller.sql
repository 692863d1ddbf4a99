-- Prebuilds, warm-pool instances, claim demand, controller bookkeeping and the simulated
-- runtime provider's own tables. Enum columns of the public API hold proto numbers
-- (PrebuildPhase, WarmPoolPhase); instance states are words, as they appear in docs and logs.

-- Controller bookkeeping on warm pools --------------------------------------------------------

ALTER TABLE warm_pools
    -- Scheduling: the pool is reconciled when next_reconcile_at has passed (or on a wake-up).
    ADD COLUMN next_reconcile_at     timestamptz NOT NULL DEFAULT now(),
    -- Lease: one controller replica at a time works on a pool. lease_token is the fencing
    -- token: it grows on every acquisition, and every controller write checks it.
    ADD COLUMN lease_owner           text,
    ADD COLUMN lease_token           bigint NOT NULL DEFAULT 0,
    ADD COLUMN lease_expires_at      timestamptz,
    ADD COLUMN paused                boolean NOT NULL DEFAULT false,
    -- Sizing state carried from one reconcile to the next (scale-in stabilization): the
    -- running target, and since when demand has been below each target (NULL: it is not).
    ADD COLUMN running_target        integer NOT NULL DEFAULT 0,
    ADD COLUMN running_target_low_since timestamptz,
    ADD COLUMN target_low_since      timestamptz,
    -- Failure state: consecutive failed creates on spec version failures_spec_version.
    ADD COLUMN create_failures       integer NOT NULL DEFAULT 0,
    ADD COLUMN failures_spec_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_failure_at       timestamptz,
    ADD COLUMN backoff_until         timestamptz,
    ADD COLUMN last_failure_message  text NOT NULL DEFAULT '',
    -- Since when ready capacity has been below min_size (for the DEGRADED grace period).
    ADD COLUMN below_min_since       timestamptz,
    -- Since when the pool has not been READY (for the convergence-time metric).
    ADD COLUMN converging_since      timestamptz DEFAULT now();

-- The pools a controller must look at now: an index probe, however many pools are idle.
CREATE INDEX warm_pools_due ON warm_pools (next_reconcile_at) WHERE phase <> 50 AND NOT paused;

-- Every spec change (create, update, delete, new snapshot, project configuration) makes the
-- pool due at once and wakes the controllers. A trigger, so that no writer can forget it.
CREATE FUNCTION warmpool_schedule_pool() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_reconcile_at := now();
    PERFORM pg_notify('warmpool_pool', NEW.id::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER warm_pools_schedule_on_insert BEFORE INSERT ON warm_pools
    FOR EACH ROW EXECUTE FUNCTION warmpool_schedule_pool();
CREATE TRIGGER warm_pools_schedule_on_spec_change BEFORE UPDATE OF spec_version ON warm_pools
    FOR EACH ROW WHEN (NEW.spec_version <> OLD.spec_version)
    EXECUTE FUNCTION warmpool_schedule_pool();

-- Prebuilds -----------------------------------------------------------------------------------

CREATE TABLE prebuilds (
    id                             uuid PRIMARY KEY,
    organization_id                uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id                     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_class_id           uuid NOT NULL REFERENCES environment_classes (id) ON DELETE CASCADE,
    runner_id                      uuid NOT NULL,               -- metadata.executor
    creator_id                     uuid NOT NULL,               -- metadata.creator.id
    creator_principal              smallint NOT NULL,           -- metadata.creator.principal
    triggered_by                   smallint NOT NULL DEFAULT 1, -- MANUAL
    created_at                     timestamptz NOT NULL DEFAULT now(),
    updated_at                     timestamptz NOT NULL DEFAULT now(),
    -- spec
    spec_version                   bigint NOT NULL DEFAULT 1,
    desired_phase                  smallint NOT NULL DEFAULT 60,  -- COMPLETED
    timeout_seconds                integer NOT NULL CHECK (timeout_seconds BETWEEN 300 AND 7200),
    -- status
    phase                          smallint NOT NULL DEFAULT 10,  -- PENDING
    status_version                 bigint NOT NULL DEFAULT 1,
    completion_time                timestamptz,
    failure_message                text NOT NULL DEFAULT '',
    warning_message                text NOT NULL DEFAULT '',
    environment_id                 uuid,
    snapshot_completion_percentage integer NOT NULL DEFAULT 0,
    snapshot_size_bytes            bigint NOT NULL DEFAULT 0,
    log                            text NOT NULL DEFAULT '',
    -- what the prebuild produced (not on the wire: pools show it as spec.snapshot_id)
    snapshot_id                    uuid,
    deleted_at                     timestamptz,                   -- when the phase became DELETED
    -- controller
    next_reconcile_at              timestamptz NOT NULL DEFAULT now(),
    lease_owner                    text,
    lease_token                    bigint NOT NULL DEFAULT 0,
    lease_expires_at               timestamptz
);

CREATE INDEX prebuilds_by_org_order ON prebuilds (organization_id, created_at, id);
-- Prebuilds still moving (not COMPLETED, FAILED, CANCELLED or DELETED).
CREATE INDEX prebuilds_due ON prebuilds (next_reconcile_at) WHERE phase NOT IN (60, 70, 80, 90);
-- The latest completed prebuild of a pair gives new pools their snapshot.
CREATE INDEX prebuilds_completed_by_pair
    ON prebuilds (project_id, environment_class_id, completion_time DESC) WHERE phase = 60;

CREATE FUNCTION warmpool_schedule_prebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_reconcile_at := now();
    PERFORM pg_notify('warmpool_prebuild', NEW.id::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER prebuilds_schedule_on_insert BEFORE INSERT ON prebuilds
    FOR EACH ROW EXECUTE FUNCTION warmpool_schedule_prebuild();
CREATE TRIGGER prebuilds_schedule_on_spec_change BEFORE UPDATE OF spec_version ON prebuilds
    FOR EACH ROW WHEN (NEW.spec_version <> OLD.spec_version)
    EXECUTE FUNCTION warmpool_schedule_prebuild();

-- Instances -----------------------------------------------------------------------------------

-- One row per instance a pool ever asked for. The state is both the controller's record and
-- its intent: 'creating', 'starting', 'stopping' and 'draining' are written before the provider
-- is called, so a crashed replica's successor reissues the call (provider calls are idempotent
-- by instance id). Every transition is a conditional UPDATE on (state, version).
CREATE TABLE instances (
    id               uuid PRIMARY KEY,
    pool_id          uuid NOT NULL REFERENCES warm_pools (id) ON DELETE CASCADE,
    organization_id  uuid NOT NULL,
    snapshot_id      uuid NOT NULL,
    state            text NOT NULL CHECK (state IN ('creating', 'warming', 'ready', 'stopping',
                         'standby', 'starting', 'claimed', 'draining', 'failed', 'deleted')),
    version          bigint NOT NULL DEFAULT 1,
    state_since      timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    failure_message  text NOT NULL DEFAULT '',
    -- claims
    claim_id         text,
    claimed_at       timestamptz,
    claimed_running  boolean,                        -- running (true) or stopped when claimed
    start_pending    boolean NOT NULL DEFAULT false  -- claimed while stopped: start it
);

-- What a pool's reconcile reads: its live instances and claimed ones still to be started.
CREATE INDEX instances_observed ON instances (pool_id)
    WHERE state <> 'deleted' AND (state <> 'claimed' OR start_pending);
-- What a claim reads.
CREATE INDEX instances_claimable ON instances (pool_id, created_at)
    WHERE state IN ('ready', 'standby');
-- A claim id names one instance per organization: retries return it.
CREATE UNIQUE INDEX instances_claim_id ON instances (organization_id, claim_id)
    WHERE claim_id IS NOT NULL;
-- Housekeeping of finished rows.
CREATE INDEX instances_finished ON instances (state_since) WHERE state IN ('claimed', 'deleted');

-- Claim attempts feed demand-based sizing. Soft state (UNLOGGED: cheap to write, empty after
-- a database crash, which only means demand restarts from zero); rows older than the demand
-- window are purged by the controller's housekeeping.
CREATE UNLOGGED TABLE claim_attempts (
    pool_id  uuid NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    outcome  smallint NOT NULL  -- warmpool.v1.ClaimOutcome
);
CREATE INDEX claim_attempts_by_pool ON claim_attempts (pool_id, at);
CREATE INDEX claim_attempts_by_time ON claim_attempts (at);

-- Operator switches shared by all replicas ('paused': the whole controller stops acting).
CREATE TABLE controller_flags (
    name        text PRIMARY KEY,
    enabled     boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The simulated runtime provider ------------------------------------------------------------

-- An instance's current transition and when it completes; its state is derived from the
-- clock, so it survives restarts and needs no background work.
CREATE TABLE sim_instances (
    id                    uuid PRIMARY KEY,
    snapshot_id           uuid NOT NULL,
    environment_class_id  uuid NOT NULL,
    transition            text NOT NULL CHECK (transition IN ('provision', 'start', 'stop', 'delete')),
    done_at               timestamptz NOT NULL,
    fails                 boolean NOT NULL DEFAULT false,
    message               text NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sim_instances_deleted ON sim_instances (done_at) WHERE transition = 'delete';

CREATE TABLE sim_prebuilds (
    id              uuid PRIMARY KEY,
    snapshot_id     uuid NOT NULL,
    environment_id  uuid NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    seconds         double precision NOT NULL,
    size_bytes      bigint NOT NULL,
    cancelled_at    timestamptz
);

-- Snapshots whose instances fail to create (failure injection by snapshot).
CREATE TABLE sim_faults (
    snapshot_id  uuid PRIMARY KEY,
    message      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
