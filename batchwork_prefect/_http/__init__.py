"""The HTTP toolkit every wire format shares: transport, retry policy, request bodies, JSONL."""
