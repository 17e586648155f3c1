-- skipstore group schema, version 2: the shrink migration's archive of
-- unknown-outcome orphans it closed/removed when their merchant_id+out_trade_no
-- clashed with the order the client was given (skipctl group retire; docs/shrink.md).
-- skipctl also creates it on demand (same definition) for groups set up before v2.
USE skipstore;

CREATE TABLE IF NOT EXISTS retired_orphans (
  order_no       CHAR(25)         NOT NULL PRIMARY KEY,
  group_id       TINYINT UNSIGNED NOT NULL,
  merchant_id    VARCHAR(32)      NOT NULL,
  out_trade_no   VARCHAR(64)      NOT NULL,
  status         VARCHAR(10)      NOT NULL,
  version        INT UNSIGNED     NOT NULL,
  row_json       TEXT             NOT NULL,
  action         VARCHAR(16)      NOT NULL,
  retired_group  TINYINT UNSIGNED NOT NULL,
  kept_order_no  CHAR(25)         NOT NULL,
  recorded_at    DATETIME(3)      NOT NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO schema_version (version, applied_at) VALUES (2, NOW(3));
