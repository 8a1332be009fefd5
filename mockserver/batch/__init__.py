"""The batch interface: intake of uploads, background processing, transaction logs, downloads."""
