"""The supervisors' console: server-rendered pages under ``/console`` (see ``routes``)."""
