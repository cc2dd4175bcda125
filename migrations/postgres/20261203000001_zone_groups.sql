-- Zone groups (PostgreSQL): free-form groups with an optional parent (a site → building → floor hierarchy, or any
-- other tree), and the group each zone belongs to. Zones stored before this migration belong to no group.

CREATE TABLE zone_groups (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused
    name       TEXT    NOT NULL,
    -- What the group stands for: `site`, `building`, `floor` or `group` (free-form); only a label for the views.
    kind       TEXT    NOT NULL DEFAULT 'group' CHECK (kind IN ('site', 'building', 'floor', 'group')),
    -- NULL: a top-level group. A group with children or zones cannot be deleted.
    parent_id  BIGINT REFERENCES zone_groups (id) ON DELETE RESTRICT,
    created_ms BIGINT  NOT NULL,
    updated_ms BIGINT  NOT NULL
);

-- Sibling names are unique (top-level ones too: COALESCE makes NULL parents equal).
CREATE UNIQUE INDEX zone_groups_sibling_name ON zone_groups (COALESCE(parent_id, 0), name);

ALTER TABLE zones ADD COLUMN group_id BIGINT REFERENCES zone_groups (id) ON DELETE RESTRICT;
CREATE INDEX zones_group ON zones (group_id);
