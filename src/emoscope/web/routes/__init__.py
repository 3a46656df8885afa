"""The app's routes, one APIRouter per module, grouped by what they serve; create_app includes them all."""
