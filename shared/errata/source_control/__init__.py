"""Source control: code mappings, links from frames to commits, and deploy webhooks."""
