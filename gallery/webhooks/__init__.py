"""Signed webhooks per team (Standard Webhooks): endpoints, events, deliveries and their log."""
