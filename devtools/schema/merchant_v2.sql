-- skipstore merchant store schema, version 2: dead letters keep the message
-- byte-exact (issue 15, docs/mirror.md "Bad events").
--  * payload MEDIUMTEXT -> MEDIUMBLOB: no character set is involved, so the
--    mirror can always write the row, whatever bytes a producer sent (v1 rows
--    keep their bytes; those written as 'hex:...' by v1 stay so);
--  * the message's key, "type" header and timestamp; payload_len is the real
--    length, truncated=1 when payload or key was cut (over ~4 MiB) or left
--    out (an escalated minimal row);
--  * one row per message: a re-delivery after a crash (offsets are committed
--    after the merchant-store commit) writes no second row. The timestamp is
--    part of the key, so a recreated topic's message at an old offset is
--    still recorded.
USE skipstore_merchant;

ALTER TABLE dead_letters
  MODIFY payload     MEDIUMBLOB NULL,
  ADD COLUMN ktimestamp  BIGINT NULL AFTER koffset,
  ADD COLUMN msg_key     BLOB NULL AFTER ktimestamp,
  ADD COLUMN type_header VARBINARY(255) NULL AFTER msg_key,
  ADD COLUMN payload_len INT UNSIGNED NULL AFTER payload,
  ADD COLUMN truncated   TINYINT(1) NOT NULL DEFAULT 0 AFTER payload_len,
  ADD UNIQUE KEY uk_message (topic, kpartition, koffset, ktimestamp),
  ADD KEY idx_created (created_at);

INSERT IGNORE INTO schema_version (version, applied_at) VALUES (2, NOW(3));
