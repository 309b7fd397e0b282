"""Distillation of thinking traces from a teacher (the `distill` stage, `judgerl distill`).

config.py holds the torch-free recipe keys; teachers.py the OpenAI-compatible chat teacher (on
judgerl.core.http) and the local make_generator one; answers.py the appended answers file;
accept.py the strict-parser acceptance and the thinking budget; report.py the statistics;
stage.py the stage itself.
"""
