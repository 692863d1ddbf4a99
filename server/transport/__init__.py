"""Transports: gRPC and Connect adapters over the shared handlers."""
