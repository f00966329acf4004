"""AWS Identity and Access Management: users, roles, policies and the decisions they make."""
