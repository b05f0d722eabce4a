"""execsvc: an asyncio order-execution service for Zerodha Kite Connect."""
