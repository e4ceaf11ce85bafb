"""SockJS and raw websocket transports on Tornado 6. Knows nothing of channels."""
