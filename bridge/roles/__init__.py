"""Agent roles: LLM agents (generator, tester, critic, optimizer, and the user's own) called by a tag in the chat.

- `config`: a role's settings (`roles:` in devspace.yaml) and the four built in.
- `calls`: the API calls of the roles: one client per role, the hourly limit, the usage per chat.
- `context`: what a role is shown: the files named, the last few turns, the request, a patch.
- `run`: a role tag run: text posted, or a patch applied and checked through the fix loop.
- `critics`: the critic's review of each patch that lands while the developer allows critics.
"""
