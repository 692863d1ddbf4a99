-- Tenancy (organizations, tokens, runners, environment classes, projects) and warm pools.
-- Enum columns hold the proto enum numbers (WarmPoolPhase), so no translation table is needed.

CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens: only a SHA-256 of the secret is stored.
CREATE TABLE api_tokens (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role             text NOT NULL CHECK (role IN ('admin', 'warmpool_admin', 'viewer', 'runner')),
    name             text NOT NULL DEFAULT '',
    token_hash       bytea NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);

CREATE TABLE runners (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE environment_classes (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    runner_id        uuid NOT NULL REFERENCES runners (id),
    name             text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id                              uuid PRIMARY KEY,
    organization_id                 uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                            text NOT NULL,
    prebuilds_enabled               boolean NOT NULL DEFAULT false,
    prebuild_environment_class_ids  uuid[] NOT NULL DEFAULT '{}',
    prebuild_timeout_seconds        integer NOT NULL DEFAULT 3600
        CHECK (prebuild_timeout_seconds BETWEEN 300 AND 7200),
    created_at                      timestamptz NOT NULL DEFAULT now(),
    updated_at                      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warm_pools (
    id                    uuid PRIMARY KEY,
    organization_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id            uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_class_id  uuid NOT NULL REFERENCES environment_classes (id) ON DELETE CASCADE,
    runner_id             uuid NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- spec
    spec_version          bigint NOT NULL DEFAULT 1,
    legacy_desired_size   integer NOT NULL DEFAULT 0,  -- spec.desired_size (deprecated); 0 = unset
    min_size              integer NOT NULL CHECK (min_size BETWEEN 0 AND 20),
    max_size              integer NOT NULL CHECK (max_size BETWEEN 1 AND 20),
    snapshot_id           uuid,
    desired_phase         smallint NOT NULL DEFAULT 20,  -- READY; DELETED once deleted
    -- status
    phase                 smallint NOT NULL DEFAULT 10,  -- PENDING
    failure_message       text NOT NULL DEFAULT '',
    status_version        bigint NOT NULL DEFAULT 1,
    running_instances     integer NOT NULL DEFAULT 0,
    stopped_instances     integer NOT NULL DEFAULT 0,
    target_size           integer NOT NULL DEFAULT 0,  -- status.desired_size
    deleted_at            timestamptz,                 -- when the phase became DELETED
    CHECK (min_size <= max_size)
);

-- One live pool per <project, class>. A deleted pool (desired_phase DELETED = 50) frees the
-- pair at once. Concurrent creates race on this index, never on a check-then-insert.
CREATE UNIQUE INDEX warm_pools_one_live_per_pair
    ON warm_pools (project_id, environment_class_id)
    WHERE desired_phase <> 50;

-- ListWarmPools: an organization's pools in (created_at, id) order.
CREATE INDEX warm_pools_by_org_order ON warm_pools (organization_id, created_at, id);

-- Keys the server signs with (page tokens). Shared by every replica through the database.
CREATE TABLE server_keys (
    name        text PRIMARY KEY,
    secret      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
