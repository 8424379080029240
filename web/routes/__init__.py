"""One router per concern; each parses the request, calls a use case of ``app``, renders."""
