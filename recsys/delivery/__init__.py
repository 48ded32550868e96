"""Sending what the engine made to where people read it: group-chat webhooks."""
