"""The route kit: endpoint declarations, the router, tokens, the OpenAPI document, the pages and the screens' feeds."""
