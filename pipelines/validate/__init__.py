"""The validate stage (`gcml validate`): `stage.run` on Beam, `local` in memory."""
