"""The dashboard API over HTTP: one Powertools router per resource, the access check, and the error shapes.
`functions/api/handler.py` puts them together with the page; the domain they call is the rest of `errata`."""
