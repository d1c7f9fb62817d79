"""The one guarded creator of appointment and termination transactions, and what follows a change."""
