from django.urls import path

from . import api

urlpatterns = [
    path("api/congress/proposals", api.ProposalListApi.as_view(), name="congress-proposals"),
    path(
        "api/congress/proposals/<str:code>",
        api.ProposalDetailApi.as_view(),
        name="congress-proposal",
    ),
    path("api/congress/proposals/<str:code>/votes", api.VoteApi.as_view(), name="congress-votes"),
    path(
        "api/congress/proposals/<str:code>/transition",
        api.TransitionApi.as_view(),
        name="congress-transition",
    ),
]
