"""The audit trail: every call that changes something, on every door, kept as a CloudTrail-shaped JSON event.

events.py       the event's shape: the envelope, the caller as `userIdentity`
redaction.py    the one table of what is hidden (secret values, passwords, tokens) and the walk applying it
recorders.py    the adapters of the services' ports (aws/answered_calls.py, registry/api/call_records.py,
                pullthrough's RoleActivity, IAM's DeletionTaskObserver): each call made an event
writer.py       AuditWriter: a bounded queue drained by a thread into <data-dir>/audit/audit.log, one write of
                one line each, rotated by size under a flock that every worker shares
reader.py       the current file and the rotated ones, oldest first, filtered
command.py      `pullcache audit`
"""
