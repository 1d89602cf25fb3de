"""Campaigns with control groups: plan, measure, explain (issue 15; statistics first)."""
