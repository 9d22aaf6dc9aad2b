"""Uploads and downloads: parts, journals, resume, output layouts, manifests, progress."""
