-- skipstore merchant store schema, version 1 (skipstore-mirror writes it).
CREATE DATABASE IF NOT EXISTS skipstore_merchant CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
USE skipstore_merchant;

CREATE TABLE IF NOT EXISTS schema_version (
  version     INT NOT NULL PRIMARY KEY,
  applied_at  DATETIME(3) NOT NULL
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS merchant_orders (
  order_no        CHAR(25)      NOT NULL,
  group_id        TINYINT UNSIGNED NOT NULL,
  merchant_id     VARCHAR(32)   NOT NULL,
  out_trade_no    VARCHAR(64)   NOT NULL,
  store_id        VARCHAR(32)   NULL,
  terminal_id     VARCHAR(32)   NULL,
  amount          BIGINT        NOT NULL,
  currency        CHAR(3)       NOT NULL,
  channel         VARCHAR(16)   NOT NULL,
  subject         VARCHAR(128)  NULL,
  attach          VARCHAR(256)  NULL,
  status          VARCHAR(10)   NOT NULL,
  refunded_amount BIGINT        NOT NULL DEFAULT 0,
  channel_txn_id  VARCHAR(64)   NULL,
  version         INT UNSIGNED  NOT NULL,
  created_at      DATETIME(3)   NOT NULL,
  updated_at      DATETIME(3)   NOT NULL,
  expire_at       DATETIME(3)   NOT NULL,
  paid_at         DATETIME(3)   NULL,
  closed_at       DATETIME(3)   NULL,
  committed_at    DATETIME(3)   NULL,       -- when the change committed in its group
  applied_at      DATETIME(3)   NOT NULL,   -- when the mirror applied it
  PRIMARY KEY (order_no),
  KEY idx_merchant_created (merchant_id, created_at, order_no)
) ENGINE=InnoDB;

-- Events the mirror could not apply (bad JSON, unknown fields, ...).
CREATE TABLE IF NOT EXISTS dead_letters (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  topic       VARCHAR(255) NOT NULL,
  kpartition  INT NOT NULL,
  koffset     BIGINT NOT NULL,
  reason      VARCHAR(255) NOT NULL,
  payload     MEDIUMTEXT NULL,
  created_at  DATETIME(3) NOT NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO schema_version (version, applied_at) VALUES (1, NOW(3));
