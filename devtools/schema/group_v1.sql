-- skipstore group schema, version 1. Applied to every group primary by `./dev up`
-- (and by DBAs on a new group before `skipctl group add`). Replicas get it via replication.
CREATE DATABASE IF NOT EXISTS skipstore CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
USE skipstore;

CREATE TABLE IF NOT EXISTS schema_version (
  version     INT NOT NULL PRIMARY KEY,
  applied_at  DATETIME(3) NOT NULL
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS orders (
  order_no        CHAR(25)      NOT NULL,
  group_id        TINYINT UNSIGNED NOT NULL,   -- group stamped in the number
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
  PRIMARY KEY (order_no),
  UNIQUE KEY uk_merchant_out_trade (merchant_id, out_trade_no),
  KEY idx_merchant_created (merchant_id, created_at),
  KEY idx_status_expire (status, expire_at)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS refunds (
  refund_no       CHAR(25)      NOT NULL,
  order_no        CHAR(25)      NOT NULL,
  out_refund_no   VARCHAR(64)   NOT NULL,
  amount          BIGINT        NOT NULL,
  reason          VARCHAR(256)  NULL,
  status          VARCHAR(10)   NOT NULL,
  created_at      DATETIME(3)   NOT NULL,
  PRIMARY KEY (refund_no),
  UNIQUE KEY uk_order_out_refund (order_no, out_refund_no)
) ENGINE=InnoDB;

-- Change events, written in the same transaction as the change. The relay
-- publishes them to Kafka and deletes them after the delivery report.
CREATE TABLE IF NOT EXISTS outbox (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  order_no    CHAR(25)      NOT NULL,
  merchant_id VARCHAR(32)   NOT NULL,
  version     INT UNSIGNED  NOT NULL,
  payload     TEXT          NOT NULL,   -- the order object as JSON, plus "group"
  created_at  DATETIME(3)   NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB;

-- The prober's target row: an UPDATE here is what proves a primary writable.
CREATE TABLE IF NOT EXISTS heartbeat (
  id        TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  ts        DATETIME(3) NOT NULL,
  writer    VARCHAR(64) NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO heartbeat (id, ts, writer) VALUES (1, NOW(3), 'init');

INSERT IGNORE INTO schema_version (version, applied_at) VALUES (1, NOW(3));
