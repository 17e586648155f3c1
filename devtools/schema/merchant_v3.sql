-- skipstore merchant store schema, version 3: the terminal registry and the
-- audit trail (spec §11; docs/terminals.md). Version 2 is the mirror's
-- dead-letter change; ./dev applies every version the database has not
-- recorded yet, in order, so v2 and v3 may land in either order.
USE skipstore_merchant;

-- One row per POS terminal. Written by skipstored's terminal API (one
-- transaction per change, the row locked); read by every daemon into memory.
-- updated_at is the merchant store's own clock (UTC_TIMESTAMP(3)) so the
-- daemons' "changed since" reads compare times of one clock.
CREATE TABLE IF NOT EXISTS terminals (
  terminal_id         VARCHAR(32)   NOT NULL,
  merchant_id         VARCHAR(32)   NOT NULL,
  store_id            VARCHAR(32)   NULL,
  status              VARCHAR(10)   NOT NULL,   -- REGISTERED | ACTIVE | BLOCKED | LOCKED | RETIRED
  failed_activations  INT UNSIGNED  NOT NULL DEFAULT 0,
  code_salt           CHAR(32)      NULL,       -- activation code: HMAC-SHA256(salt, code), never the code
  code_hash           CHAR(64)      NULL,
  code_expires_at     DATETIME(3)   NULL,
  activated_at        DATETIME(3)   NULL,
  blocked_at          DATETIME(3)   NULL,
  block_reason        VARCHAR(256)  NULL,
  created_at          DATETIME(3)   NOT NULL,
  updated_at          DATETIME(3)   NOT NULL,
  PRIMARY KEY (terminal_id),
  KEY idx_merchant (merchant_id, terminal_id),
  KEY idx_updated (updated_at)
) ENGINE=InnoDB;

-- Refunds, terminal changes, fence/unfence and reloads, with the caller's key
-- id. Written by each daemon's audit writer from a bounded queue;
-- event_id is unique per event, so a write retried after a timeout cannot
-- record it twice (INSERT IGNORE).
CREATE TABLE IF NOT EXISTS audit_events (
  event_id     VARCHAR(64)      NOT NULL,
  at           DATETIME(3)      NOT NULL,
  key_id       VARCHAR(64)      NOT NULL,
  role         VARCHAR(16)      NULL,
  action       VARCHAR(32)      NOT NULL,
  target       VARCHAR(64)      NULL,
  merchant_id  VARCHAR(32)      NULL,
  result       VARCHAR(32)      NOT NULL,
  detail       TEXT             NULL,
  node_id      SMALLINT UNSIGNED NOT NULL,
  PRIMARY KEY (event_id),
  KEY idx_at (at, event_id),
  KEY idx_merchant_at (merchant_id, at)
) ENGINE=InnoDB;

INSERT IGNORE INTO schema_version (version, applied_at) VALUES (3, NOW(3));
