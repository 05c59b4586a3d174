"""Drop-in modules for code written against other signature libraries.

``import sigcodegen.compat.iisignature as iisignature`` runs iisignature 0.24 code unchanged;
``import sigcodegen.compat.signatory as signatory`` does the same for signatory's API on torch 2.
Each module is imported on its own (this package imports neither), so using one needs only its
own dependencies: numpy for iisignature, torch for signatory.
"""
