"""Errata's domain: the Sentry protocol, grouping, storage adapters and the services that the Lambda
functions and the local stack share."""
