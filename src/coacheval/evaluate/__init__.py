"""Analysis plans and the evaluation that runs them."""
