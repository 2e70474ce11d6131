-- Versioned layers: every import of a layer is an immutable version, and an
-- activation log records which version served from which instant.

-- A no-op when the extension exists already, which needs no privilege.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE layer_versions (
    layer text NOT NULL CHECK (layer ~ '^[a-z][a-z0-9_]{0,62}$'),
    version integer NOT NULL CHECK (version > 0),
    kind text NOT NULL CHECK (kind IN ('district', 'asset', 'work')),
    -- Source file name, relative to the manifest.
    source_file text NOT NULL,
    source_sha256 text NOT NULL CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
    source_crs text NOT NULL,
    attribution text,
    licence text,
    feature_count integer NOT NULL CHECK (feature_count >= 0),
    invalid_count integer NOT NULL CHECK (invalid_count >= 0),
    repaired_count integer NOT NULL CHECK (repaired_count >= 0),
    synthetic_id_count integer NOT NULL CHECK (synthetic_id_count >= 0),
    origin text NOT NULL CHECK (origin IN ('manifest', 'import')),
    -- The LoadReport of the import, as JSON.
    load_report jsonb NOT NULL,
    imported_at timestamptz NOT NULL,
    -- The latest activation of this version; the full history is in
    -- layer_activations.
    activated_at timestamptz,
    activated_by text,
    PRIMARY KEY (layer, version)
);

CREATE TABLE layer_features (
    layer text NOT NULL,
    version integer NOT NULL,
    feature_id text NOT NULL,
    -- Order of the feature in its layer, from 0.
    position integer NOT NULL,
    synthetic_id boolean NOT NULL,
    name text,
    properties jsonb NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL,
    -- Works only. A work without an interval is never active, while one
    -- with both bounds open is always active.
    has_interval boolean NOT NULL,
    -- Half-open: active from active_from (inclusive) to active_until
    -- (exclusive); a NULL bound is open.
    active_from timestamptz,
    active_until timestamptz,
    CHECK (has_interval OR (active_from IS NULL AND active_until IS NULL)),
    PRIMARY KEY (layer, version, feature_id),
    UNIQUE (layer, version, position),
    FOREIGN KEY (layer, version) REFERENCES layer_versions ON DELETE CASCADE
);

CREATE INDEX layer_features_geom_idx ON layer_features USING gist (geom);

CREATE TABLE layer_activations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer text NOT NULL,
    version integer NOT NULL,
    activated_at timestamptz NOT NULL,
    activated_by text NOT NULL,
    FOREIGN KEY (layer, version) REFERENCES layer_versions
);

CREATE INDEX layer_activations_layer_at_idx
    ON layer_activations (layer, activated_at DESC, id DESC);
