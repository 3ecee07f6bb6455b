-- Example after_restore script: runs in the restored database after it passes
-- and before it is kept, so people querying the kept restore never see real
-- e-mail addresses. Any error stops the restore from being kept.
UPDATE customers SET email = 'customer-' || id || '@example.invalid';
