"""Test doubles that speak real protocols (HTTP): a fake Kubernetes API server and object builders."""
