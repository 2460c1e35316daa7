"""Steps and helpers of the rebuild shared by every region: build context, frames, world layers."""
