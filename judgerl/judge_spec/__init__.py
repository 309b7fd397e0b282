"""How a judge is spoken to and read: prompt families and templates, verdict formats and their readers,
reward and counting rules (docs/judge_specs.md). Imports nothing of judgerl but `core`."""
